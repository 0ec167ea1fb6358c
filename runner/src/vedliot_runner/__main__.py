import sys

from vedliot_runner.entry import main

sys.exit(main())
