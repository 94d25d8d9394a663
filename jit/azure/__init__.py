"""The Azure adapter: the only package that imports azure.*."""
