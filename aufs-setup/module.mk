# aufs-setup/module.mk
aufs-setup_SRCS :=
aufs-setup_HOST_SRCS :=
aufs-setup_DEPS :=
