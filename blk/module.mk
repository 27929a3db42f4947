# blk/module.mk: scratch disk (discovery, GPT/MBR, ext4 mkfs, grow, layout).
blk_SRCS := blk/crc.c blk/util.c blk/mkfs-layout.c blk/mkfs.c blk/gpt.c blk/sig.c \
	blk/disk.c blk/prepare.c blk/layout.c
blk_HOST_SRCS := blk/cli.c
blk_DEPS :=
