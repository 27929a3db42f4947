# boot/module.mk: PID 1 stages (boot/main.c is the program entry, linked
# separately) and, host only, image building and the host tool's verbs.
boot_SRCS := boot/log.c boot/fatal.c boot/kmod.c
boot_HOST_SRCS := boot/cpio.c boot/tool-initramfs.c boot/tool-image.c
boot_DEPS := cvmfs-lite tls net blk aufs-setup
