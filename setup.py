"""Package discovery, kept here because two folders install under other names.

The repository's top-level ``templates/`` and ``leaderboard/`` folders are common names: installed
as-is they would shadow (or be shadowed by) a user's own ``templates`` package. They install and
import as ``toolrm_templates`` and ``toolrm_leaderboard``; everything else is in pyproject.toml.
"""

from setuptools import find_packages, setup


RENAMED_FOLDERS = {"toolrm_templates": "templates", "toolrm_leaderboard": "leaderboard"}

packages = find_packages(include=["harness_tasks*", "toolrm_train*"])
for import_name, folder in RENAMED_FOLDERS.items():
    packages += [import_name, *(f"{import_name}.{sub}" for sub in find_packages(where=folder))]

setup(packages=packages, package_dir=RENAMED_FOLDERS)
