import sys

from vedliot_runner.cli import main

sys.exit(main())
