# linker/module.mk: link-time material only (static-link check, size report
# and budget). No run-time C lives here.
