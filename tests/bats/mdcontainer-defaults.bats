#!/usr/bin/env bats
# rear-plugin/lib/mdcontainer-defaults.sh: defaults that local.conf can override.

load test_helper

setup() {
    DEFAULTS=$MDC_REPO/rear-plugin/lib/mdcontainer-defaults.sh
    unset MDCONTAINER_ENABLED MDCONTAINER_PYTHON
}

@test "the defaults are set" {
    source "$DEFAULTS"
    assert_equal "$MDCONTAINER_ENABLED" yes
    assert_equal "$MDCONTAINER_PYTHON" /usr/bin/python3
}

@test "a value set before sourcing is kept" {
    MDCONTAINER_ENABLED=no
    MDCONTAINER_PYTHON=/opt/python/bin/python3
    source "$DEFAULTS"
    assert_equal "$MDCONTAINER_ENABLED" no
    assert_equal "$MDCONTAINER_PYTHON" /opt/python/bin/python3
}

@test "an empty value is replaced by the default" {
    MDCONTAINER_PYTHON=
    source "$DEFAULTS"
    assert_equal "$MDCONTAINER_PYTHON" /usr/bin/python3
}

@test "sourcing prints nothing and succeeds under set -u" {
    run bash -u -c "source '$DEFAULTS' && echo \"\$MDCONTAINER_ENABLED\""
    assert_success
    assert_output yes
}

@test "the defaults set MDCONTAINER_ variables only" {
    env -i bash --norc --noprofile -c "compgen -v >'$BATS_TEST_TMPDIR/before'; source '$DEFAULTS'; compgen -v >'$BATS_TEST_TMPDIR/after'"
    run comm -13 "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
    assert_line MDCONTAINER_ENABLED
    # anything new but ours and bash's own PIPESTATUS?
    run grep -v -x -e 'MDCONTAINER_[A-Z0-9_]*' -e PIPESTATUS <<<"$output"
    refute_output
}
