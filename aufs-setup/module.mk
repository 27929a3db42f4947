# aufs-setup/module.mk: overlay stack, switch_root, rebase, account merge,
# shutdown; cli.c holds the host tool's verbs that the host tests drive.
aufs-setup_SRCS := aufs-setup/util.c aufs-setup/compat.c aufs-setup/stack.c \
	aufs-setup/switchroot.c aufs-setup/rebase.c aufs-setup/accounts.c aufs-setup/accounts-io.c \
	aufs-setup/shutdown.c
aufs-setup_HOST_SRCS := aufs-setup/cli.c
aufs-setup_DEPS :=
