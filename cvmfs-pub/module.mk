# cvmfs-pub/module.mk: the publisher (keygen, publish, tag, inspect). Host
# tool only: no cvmfs-pub_SRCS, so build/init cannot contain any of it. It
# writes the repository format through cvmfs-lite's shared part (format.h:
# hash.c, keccak.c, manifest.c, xattr.c, catalog-props.c) and fetches over
# net/tls (inspect URL).
cvmfs-pub_SRCS :=
cvmfs-pub_HOST_SRCS := cvmfs-pub/util.c cvmfs-pub/keys.c cvmfs-pub/walk.c cvmfs-pub/store.c \
	cvmfs-pub/content.c cvmfs-pub/catalog.c cvmfs-pub/prev.c cvmfs-pub/history.c \
	cvmfs-pub/publish.c cvmfs-pub/inspect.c cvmfs-pub/mirror.c cvmfs-pub/cli.c cvmfs-pub/bundle.c \
	cvmfs-pub/reflog.c cvmfs-pub/gc.c
cvmfs-pub_DEPS := cvmfs-lite tls net
