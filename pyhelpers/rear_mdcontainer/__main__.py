"""``python3 -m rear_mdcontainer``"""

import sys

from .cli import main

sys.exit(main())
