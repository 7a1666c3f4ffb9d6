"""Research machinery, not installed with poseshift: what the benchmarks and the tests share.

* :mod:`.supervised`: the ablation's supervised baseline (G trained on ground-truth pairs);
* :mod:`.pose_judge`: the pose regressor trained on ground truth alone that scores renders;
* :mod:`.ablation_stats`: the ablation table's statistics (paired bootstrap, colour identity, seeds);
* :mod:`.patch_terms`: the patch terms of L_Id per joint (benchmarks/patch_bias.py);
* :mod:`.kill_resume`: training killed and resumed again and again (benchmarks/kill_resume.py);
* :mod:`.fuzzing` (with :mod:`.fuzzing_extra`, :mod:`.fuzzing_media`): malformed inputs through
  the command line (benchmarks/fuzz.py).

Run from the repository root (``python benchmarks/...``: each benchmark puts the root on
``sys.path``); the tests import it through pytest's ``pythonpath`` (pyproject.toml).
"""
