"""``python -m poseshift ...``: the same command as ``poseshift ...`` (what torchrun's ``-m`` runs)."""
import sys

from poseshift.cli import main

sys.exit(main())
