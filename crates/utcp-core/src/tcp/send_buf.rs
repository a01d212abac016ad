//! Placeholder: written by a parallel work item.
