//! Stories arrive in the next commit.
