# cvmfs-lite/module.mk
cvmfs-lite_SRCS :=
cvmfs-lite_HOST_SRCS :=
cvmfs-lite_DEPS := tls net
