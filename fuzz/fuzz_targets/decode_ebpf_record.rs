//! Any bytes as a record from the eBPF ring buffer (a request any local
//! process can send, copied by the programs): decoding never panics, and
//! the stream decoder, which reuses the previous record's task when the
//! same task sent the next one, decodes each record exactly as a fresh
//! decoder does, whatever came before.
#![no_main]

use guardian::ebpf::{Decoder, Record};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (first, second) = data.split_at(data.len() / 2);
    let mut stream = Decoder::default();
    for record in [data, first, second, second, data] {
        assert_eq!(stream.decode(record), Record::try_from(record));
    }
});
