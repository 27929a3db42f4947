# tls/module.mk
tls_SRCS :=
tls_HOST_SRCS :=
tls_DEPS := net
