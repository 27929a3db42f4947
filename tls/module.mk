# tls/module.mk
tls_SRCS := tls/ctx.c tls/conn.c tls/https.c
tls_HOST_SRCS :=
tls_DEPS := net

# The CA bundle baked into the initramfs, as concatenated DER; PID 1 loads it
# from /etc/cvmboot/ca.der (TLS_CA_PATH). CA_BUNDLE=file.pem picks another.
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
TLS_CA_DER := $(B)/tls/ca.der
# Rebuilt when the CA_BUNDLE setting changes, not only when the file does.
$(B)/tls/ca-bundle.src: tls-ca-bundle-src
	@mkdir -p $(@D)
	$(Q)echo '$(abspath $(CA_BUNDLE))' | cmp -s - $@ || echo '$(abspath $(CA_BUNDLE))' > $@
.PHONY: tls-ca-bundle-src
$(TLS_CA_DER): $(CA_BUNDLE) $(B)/tls/ca-bundle.src tls/ca-der.py
	@echo "  CA      $@"
	$(Q)$(PYTHON) tls/ca-der.py $(CA_BUNDLE) $@
$(CA_BUNDLE):
	@echo "CA_BUNDLE=$@ does not exist: install ca-certificates or pass CA_BUNDLE=file.pem" >&2
	@exit 1
