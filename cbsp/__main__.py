import sys

from cbsp.cli import main

sys.exit(main())
