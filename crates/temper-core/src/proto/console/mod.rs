//! Console login shell driver.
