"""Language tools the speech and tagging stages share: lexicons, Chinese segmentation, phrase matching."""
