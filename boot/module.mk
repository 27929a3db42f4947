# boot/module.mk: PID 1 stages (boot/main.c is the program entry, linked
# separately) and, host only, image building and the host tool's verbs.
boot_SRCS := boot/log.c boot/fatal.c boot/kmod.c boot/stage-config.c \
	boot/stage-net.c boot/stage-disk.c boot/stage-context.c boot/stage-cvmfs.c \
	boot/stage-handover.c boot/stage-shutdown.c
boot_HOST_SRCS := boot/cpio.c boot/tool-initramfs.c boot/tool-image.c
boot_DEPS := cvmfs-lite tls net blk aufs-setup
# configuration and contextualization (engineer ctx)
boot_SRCS += boot/config.c boot/snapshot.c boot/base64.c boot/userdata.c boot/shvars.c \
	boot/tar.c boot/context.c boot/context-http.c \
	boot/extra-context.c boot/vmware.c boot/azure.c boot/geo.c boot/kexec.c
boot_HOST_SRCS += boot/tool-context.c
boot_HOST_SRCS += boot/tool-fetch.c boot/tool-sign.c boot/tool-geo.c boot/tool-kexec.c
