//! Streams an attachment of several megabytes (hundreds of chunks) through the `Read`/`Write`
//! helpers and checks that memory use stays bounded: the source generates its bytes on demand,
//! the sink only hashes them, and a counting allocator measures the peak of what the library
//! holds. Kept in its own test binary so that the allocator sees nothing else.

use std::io::{self, Read, Seek, SeekFrom, Write};

use cap::Cap;
use sha2::{Digest, Sha256};
use sotto_attachment::deterministic::{self, Domain};
use sotto_crypto::SecretBytes;

#[global_allocator]
static ALLOCATOR: Cap<std::alloc::System> = Cap::new(std::alloc::System, usize::MAX);

/// `len` bytes where byte `i` is a function of `i`, produced on demand; seekable.
struct Generated {
    len: u64,
    pos: u64,
}

fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(0x9e37_79b9) >> 13) as u8
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.len - self.pos).unwrap_or(usize::MAX);
        let mut n = 0;
        for (offset, b) in buf.iter_mut().take(left).enumerate() {
            *b = byte_at(self.pos + offset as u64);
            n += 1;
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Generated {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.pos = match pos {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self.len.saturating_add_signed(d),
            SeekFrom::Current(d) => self.pos.saturating_add_signed(d),
        }
        .min(self.len);
        Ok(self.pos)
    }
}

/// A sink that keeps only a running hash and a count.
#[derive(Default)]
struct HashSink {
    hash: Sha256,
    len: u64,
}

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hash.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_multi_megabyte_attachment_streams_in_bounded_memory() {
    const LEN: u64 = 9_000_000; // 275 chunks
    const BOUND: usize = 512 * 1024;
    let seed = SecretBytes::new([0x11; 32]);

    let mut expected = HashSink::default();
    io::copy(&mut Generated { len: LEN, pos: 0 }, &mut expected).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("attachment.enc");
    let baseline = ALLOCATOR.allocated();

    let key = {
        let file = std::fs::File::create(&path).unwrap();
        deterministic::encrypt_seekable(
            &seed,
            Domain::Attachment,
            Generated { len: LEN, pos: 0 },
            io::BufWriter::new(file),
        )
        .unwrap()
    };
    let encrypted_len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(Some(encrypted_len), deterministic::encrypted_size(LEN));

    let mut decrypted = HashSink::default();
    let n = deterministic::decrypt_reader(
        &key,
        io::BufReader::new(std::fs::File::open(&path).unwrap()),
        &mut decrypted,
    )
    .unwrap();

    let peak = ALLOCATOR.max_allocated().saturating_sub(baseline);
    assert_eq!(n, LEN);
    assert_eq!(decrypted.len, LEN);
    assert_eq!(decrypted.hash.finalize(), expected.hash.finalize());
    assert!(
        peak < BOUND,
        "peak allocation while streaming {LEN} bytes: {peak} bytes (bound {BOUND})"
    );
    println!("streamed {LEN} bytes each way; peak allocation {peak} bytes");
}
