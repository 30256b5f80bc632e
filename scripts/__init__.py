"""Build scripts: the function packages for each cloud. Run them as `python -m scripts.package_<cloud>`."""
