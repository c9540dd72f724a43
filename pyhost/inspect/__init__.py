"""Container inspection: kernel truth about namespaces, cgroups, storage and network.

Never import this package as a bare ``inspect``: it would shadow the stdlib module.
"""
