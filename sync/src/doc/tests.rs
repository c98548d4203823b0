//! Tests of the document mapping.
