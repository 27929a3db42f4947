# cvmfs-lite/module.mk
cvmfs-lite_SRCS :=
cvmfs-lite_HOST_SRCS :=
cvmfs-lite_DEPS := tls net
# pub: shared repository format (client and publisher), then publisher-only.
cvmfs-lite_SRCS += cvmfs-lite/hash.c cvmfs-lite/keccak.c cvmfs-lite/manifest.c cvmfs-lite/xattr.c
cvmfs-lite_HOST_SRCS += cvmfs-lite/pub-util.c cvmfs-lite/pub-keys.c cvmfs-lite/pub-walk.c \
	cvmfs-lite/pub-store.c cvmfs-lite/pub-content.c cvmfs-lite/pub-catalog.c \
	cvmfs-lite/pub-prev.c cvmfs-lite/pub-history.c cvmfs-lite/pub.c cvmfs-lite/pub-inspect.c \
	cvmfs-lite/pub-mirror.c cvmfs-lite/cli-pub.c
# cli: FUSE server and the repository client (both programs), `cvmboot mount` (host).
cvmfs-lite_SRCS += cvmfs-lite/fuse.c cvmfs-lite/cache.c cvmfs-lite/fetch.c cvmfs-lite/catalog.c \
	cvmfs-lite/objects.c cvmfs-lite/client.c cvmfs-lite/ops.c cvmfs-lite/xattr-ops.c cvmfs-lite/pin.c
cvmfs-lite_HOST_SRCS += cvmfs-lite/cli-mount.c
