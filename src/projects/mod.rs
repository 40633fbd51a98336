//! Projects and their members, and the authorization every project-scoped endpoint uses: the
//! proof (`access`, below the stores) and the guard (`guard`, above them).

pub mod access;
pub mod guard;
pub mod handlers;
pub mod invitations;
pub mod members;
pub mod store;
