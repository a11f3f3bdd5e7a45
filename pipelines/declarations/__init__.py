"""Declarations: typed models of the YAML files under schemas/, and their loading."""
