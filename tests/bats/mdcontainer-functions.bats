#!/usr/bin/env bats
# usr/share/rear/lib/mdcontainer-functions.sh with ReaR 2.7's real
# lib/layout-functions.sh: our components in ReaR's dependency graph.

load test_helper

setup_file() {
    mdc_install_plugin
}

setup() {
    mdc_rear_env
    mdc_source_plugin
    mdc_write_imsm_raid1_layout
}

@test "the wrapper adds mdcontainer and mdvolume to diskdeps.conf and disktodo.conf" {
    run generate_layout_dependencies
    assert_success
    run cat "$LAYOUT_DEPS"
    assert_line '/dev/md126 /dev/md127'
    assert_line '/dev/md127 /dev/sda'
    assert_line '/dev/md127 /dev/sdb'
    # upstream's generic 'part' and 'fs' handling hangs the volume's contents on it
    assert_line '/dev/md126p2 /dev/md126'
    assert_line 'fs:/ /dev/md126p2'
    run cat "$LAYOUT_TODO"
    assert_line 'todo /dev/md127 mdcontainer'
    assert_line 'todo /dev/md126 mdvolume'
    assert_line 'todo /dev/sda disk'
    assert_line 'todo /dev/md126p2 part'
}

@test "ReaR's own layout/save/default/300_list_dependencies.sh gets our components" {
    run source "$REAR_SHARE/layout/save/default/300_list_dependencies.sh"
    assert_success
    run get_component_type /dev/md127
    assert_output 'mdcontainer'
    run get_component_type /dev/md126
    assert_output 'mdvolume'
}

@test "each component and dependency is added once" {
    generate_layout_dependencies
    run grep -c ' /dev/md127 mdcontainer$' "$LAYOUT_TODO"
    assert_output 1
    run grep -c '^/dev/md126 /dev/md127$' "$LAYOUT_DEPS"
    assert_output 1
}

@test "a commented-out #mdcontainer/#mdvolume entry adds nothing" {
    sed -i -e 's/^mdcontainer /#mdcontainer /' -e 's/^mdvolume /#mdvolume /' "$LAYOUT_FILE"
    run generate_layout_dependencies
    assert_success
    run grep -E 'md127|mdvolume|mdcontainer' "$LAYOUT_TODO" "$LAYOUT_DEPS"
    assert_failure
    refute_output
}

@test "a layout without our entries adds nothing and does not run the helper" {
    sed -i -E '/^(mdcontainer|mdvolume) /d' "$LAYOUT_FILE"
    function mdcontainer_helper() { echo "helper called" >>"$REAR_LOG"; return 1; }
    run generate_layout_dependencies
    assert_success
    run cat "$REAR_LOG"
    refute_output --partial 'helper called'
    run grep -E 'md127|mdcontainer' "$LAYOUT_TODO" "$LAYOUT_DEPS"
    assert_failure
}

@test "a malformed entry stops ReaR with the helper's message naming the entry" {
    sed -i 's/ level=raid1 / level=raid7 /' "$LAYOUT_FILE"
    run generate_layout_dependencies
    assert_failure
    assert_output --partial "ERROR: rear-mdcontainer: invalid entry in $LAYOUT_FILE"
    assert_output --partial 'mdvolume /dev/md126'
    assert_output --partial 'raid7'
}

@test "an entry with an unknown option stops ReaR with the option in the message" {
    sed -i 's/^mdcontainer \/dev\/md127 /&colour=blue /' "$LAYOUT_FILE"
    run generate_layout_dependencies
    assert_failure
    assert_output --partial 'mdcontainer /dev/md127'
    assert_output --partial "unknown option 'colour'"
}

@test "MDCONTAINER_ENABLED=no adds nothing" {
    MDCONTAINER_ENABLED=no
    run generate_layout_dependencies
    assert_success
    run grep -E 'md127|mdcontainer|mdvolume' "$LAYOUT_TODO" "$LAYOUT_DEPS"
    assert_failure
    # upstream's own components are still there
    run cat "$LAYOUT_TODO"
    assert_line 'todo /dev/sda disk'
}

@test "sourcing the functions twice does not wrap generate_layout_dependencies twice" {
    mdc_source_plugin
    run declare -f mdcontainer_upstream_generate_layout_dependencies
    assert_success
    refute_output --partial 'mdcontainer_add_layout_dependencies'
    generate_layout_dependencies
    run grep -c '^todo /dev/md126 mdvolume$' "$LAYOUT_TODO"
    assert_output 1
}

@test "sourcing the functions does not change what upstream generates for other entries" {
    mdcontainer_upstream_generate_layout_dependencies
    sort "$LAYOUT_DEPS" >"$BATS_TEST_TMPDIR/upstream.deps"
    generate_layout_dependencies
    run bash -c "sort '$LAYOUT_DEPS' | comm -13 '$BATS_TEST_TMPDIR/upstream.deps' -"
    assert_output "$(printf '%s\n' '/dev/md126 /dev/md127' '/dev/md127 /dev/sda' '/dev/md127 /dev/sdb' | sort)"
}

@test "excluding the container marks its volume, partitions and file systems done (mark_tree_as_done)" {
    generate_layout_dependencies
    mark_as_done /dev/md127
    mark_tree_as_done /dev/md127
    run get_child_components /dev/md127
    assert_line /dev/md126
    assert_line /dev/md126p1
    assert_line /dev/md126p2
    assert_line fs:/
    run cat "$LAYOUT_TODO"
    assert_line 'done /dev/md127 mdcontainer'
    assert_line 'done /dev/md126 mdvolume'
    assert_line 'done /dev/md126p1 part'
    assert_line 'done /dev/md126p2 part'
    assert_line 'done fs:/ fs'
    assert_line 'todo /dev/sda disk'
    assert_line 'todo /dev/sdb disk'
}

@test "excluding a member disk excludes the container and everything on it" {
    generate_layout_dependencies
    mark_as_done /dev/sda
    mark_tree_as_done /dev/sda
    run cat "$LAYOUT_TODO"
    assert_line 'done /dev/md127 mdcontainer'
    assert_line 'done /dev/md126 mdvolume'
    assert_line 'done fs:/ fs'
}

@test "ReaR's 330_remove_exclusions.sh comments out an excluded container and its volume" {
    generate_layout_dependencies
    mark_as_done /dev/md127
    mark_tree_as_done /dev/md127
    run source "$REAR_SHARE/layout/save/default/330_remove_exclusions.sh"
    assert_success
    run grep -E '^#?(mdcontainer|mdvolume|part|fs) ' "$LAYOUT_FILE"
    assert_line --regexp '^#mdcontainer /dev/md127 '
    assert_line --regexp '^#mdvolume /dev/md126 '
    assert_line --regexp '^#part /dev/md126 .* /dev/md126p2$'
    assert_line --regexp '^#fs /dev/md126p2 / '
    # a dependency graph built from the result knows nothing of them any more
    run generate_layout_dependencies
    assert_success
    run grep -E 'md12[67]' "$LAYOUT_TODO"
    assert_failure
}

@test "the volume's parents are found through the container (find_disk)" {
    generate_layout_dependencies
    run find_disk /dev/md126p2
    assert_success
    assert_line /dev/sda
    assert_line /dev/sdb
}
