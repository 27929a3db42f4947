# cvmfs-lite/module.mk
cvmfs-lite_SRCS :=
cvmfs-lite_HOST_SRCS :=
cvmfs-lite_DEPS := tls net
# format: the repository format shared with the publisher (cvmfs-pub/),
# catalog-props.c included (SQLite: the properties table of a catalog).
cvmfs-lite_SRCS += cvmfs-lite/hash.c cvmfs-lite/keccak.c cvmfs-lite/manifest.c cvmfs-lite/xattr.c \
	cvmfs-lite/catalog-props.c
# cli: FUSE server and the repository client (both programs), `cvmboot mount` (host).
cvmfs-lite_SRCS += cvmfs-lite/fuse.c cvmfs-lite/cache.c cvmfs-lite/fetch.c cvmfs-lite/catalog.c \
	cvmfs-lite/log.c cvmfs-lite/verify.c cvmfs-lite/objects.c cvmfs-lite/catalog-load.c \
	cvmfs-lite/resolve.c cvmfs-lite/client.c cvmfs-lite/ops.c cvmfs-lite/xattr-ops.c cvmfs-lite/pin.c \
	cvmfs-lite/bundle.c cvmfs-lite/join.c
cvmfs-lite_HOST_SRCS += cvmfs-lite/cli-mount.c
