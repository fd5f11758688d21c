"""The CLI verbs, one module each.

Every module here defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``,
and imports its heavy dependencies inside ``run`` so that ``tlsdoctor --help`` stays fast.
``tlsdoctor.cli`` discovers the modules; adding a verb means adding a module, nothing else.
"""
