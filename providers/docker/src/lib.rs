//! DockerFS: a Docker engine's objects as files
