"""What only the ablation study uses, kept out of the package's training path: the supervised
baseline (:mod:`.supervised`) and the pose judge that scores renders (:mod:`.pose_judge`)."""
