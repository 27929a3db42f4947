# blk/module.mk
blk_SRCS :=
blk_HOST_SRCS :=
blk_DEPS :=
