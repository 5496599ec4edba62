"""Only what pyproject.toml cannot say: `sql/` ships inside the package as `clicklake/sql`, each
of its folders a package of data files, found here so a new source format needs no edit."""

from setuptools import find_namespace_packages, setup

SQL = ["clicklake.sql", *(f"clicklake.sql.{p}" for p in find_namespace_packages("sql"))]

setup(packages=["clicklake", "clicklake.data", *SQL], package_dir={"clicklake.sql": "sql"})
