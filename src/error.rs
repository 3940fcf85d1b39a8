//! The error type of the core.

use std::fmt;

/// What kind of input was rejected (or, for `Forked`, why the tracker
/// cannot change here). An event that fails changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The group name is empty, longer than 1024 bytes or contains NUL.
    InvalidGroup,
    /// The topic name is not a legal Kafka topic name.
    InvalidTopic,
    /// The partition number is negative.
    InvalidPartition,
    /// A partition list is malformed (negative count, count above capacity,
    /// NULL elements with a non-zero count, invalid UTF-8 or NULL topic).
    InvalidList,
    /// Another argument is out of its documented range.
    InvalidArgument,
    /// This process was created by `fork()` while another thread of its
    /// parent held the tracker's writers' lock (or another lock the call
    /// needs): the tracker can be read but not changed in this process.
    /// See the README's "fork()" section.
    Forked,
}

/// A rejected input, with the position of the offending list element when
/// there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    element: Option<usize>,
    message: String,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            element: None,
            message: message.into(),
        }
    }

    /// Attaches the index of the list element that caused the error.
    pub(crate) fn at(mut self, element: usize) -> Error {
        self.element = Some(element);
        self
    }

    /// What kind of input was rejected.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The index of the rejected element in the event's list, if the error
    /// concerns one element.
    pub fn element(&self) -> Option<usize> {
        self.element
    }

    /// The reason, without the element index.
    pub fn reason(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.element {
            Some(i) => write!(f, "element {i}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {}
