import sys

from credledger.cli import main

sys.exit(main())
