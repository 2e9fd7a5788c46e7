//! GitConfigFS: YAML sections as folders timed by git blame
