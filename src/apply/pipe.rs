//! The pipeline of a large copy: a reader thread fills 1 MiB buffers, a
//! hasher thread hashes them, and the calling thread hands each to its
//! sink (the write to the temp file), so the disk never waits for the CPU.
//!
//! Invariant: every byte read is hashed and given to the sink once, in
//! order; the first error (a read, or the sink's) ends all three stages.

use crate::fs::{ErrorClass, FsError};
use std::io::Read;
use std::sync::mpsc;

/// The size of one buffer.
pub(super) const BUF: usize = 1024 * 1024;

/// Reads `r` (the file `src`) to its end through the pipeline, giving each
/// buffer to `sink`; returns the BLAKE3 hash (hex) of everything read.
/// `temp` names the copy's temp file in the error of a failed hasher.
///
/// # Errors
/// The read's or the sink's error; a hashing thread that died.
pub(super) fn pipelined(
    mut r: Box<dyn Read + Send>,
    src: &str,
    temp: &str,
    mut sink: impl FnMut(&[u8]) -> Result<(), FsError>,
) -> Result<String, FsError> {
    const IN_FLIGHT: usize = 4;
    let (to_hash, hash_rx) = mpsc::sync_channel::<Result<Vec<u8>, FsError>>(IN_FLIGHT);
    let (to_write, write_rx) = mpsc::sync_channel::<Result<Vec<u8>, FsError>>(IN_FLIGHT);
    let (recycle, spare) = mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
    std::thread::scope(|sc| {
        sc.spawn(move || {
            loop {
                let mut buf = spare.try_recv().unwrap_or_else(|_| vec![0u8; BUF]);
                buf.resize(BUF, 0);
                // Fill the buffer (a short read is not the end).
                let mut n = 0;
                let res = loop {
                    match r.read(&mut buf[n..]) {
                        Ok(0) => break Ok(()),
                        Ok(k) => {
                            n += k;
                            if n == BUF {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(FsError::io("read", src, e)),
                    }
                };
                if let Err(e) = res {
                    let _ = to_hash.send(Err(e));
                    return;
                }
                if n == 0 {
                    return; // end of file: dropping the sender says so
                }
                buf.truncate(n);
                let last = n < BUF;
                if to_hash.send(Ok(buf)).is_err() || last {
                    return;
                }
            }
        });
        let hasher = sc.spawn(move || {
            let mut h = blake3::Hasher::new();
            for item in hash_rx {
                if let Ok(buf) = &item {
                    h.update(buf);
                }
                let failed = item.is_err();
                if to_write.send(item).is_err() || failed {
                    break;
                }
            }
            h.finalize().to_hex().to_string()
        });
        for item in write_rx {
            let buf = item?;
            sink(&buf)?;
            let _ = recycle.try_send(buf);
        }
        hasher.join().map_err(|_| {
            FsError::synthetic(
                "copy",
                temp,
                ErrorClass::Crashed,
                "the hashing thread failed",
            )
        })
    })
}
