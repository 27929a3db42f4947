# net/module.mk
net_SRCS :=
net_HOST_SRCS :=
net_DEPS :=
