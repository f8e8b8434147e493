"""`python -m memory_lora ...` is the same as the `memory-lora` console script."""

import sys

from memory_lora.cli import main

sys.exit(main())
