"""The fallback container runtime: namespaces, pivot_root, overlayfs, cgroups.

It never imports Fabric: it runs on hosts that may have nothing but python3.
"""
