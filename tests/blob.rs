//! The blob layer against Azurite: signing in with the account key (as a SAS), the append
//! position condition, ranged reads of the tail.

mod common;

use bytes::Bytes;
use common::azurite::Azurite;
use drbook::blob::Store;
use drbook::share::remote::{self, Appended};

#[tokio::test]
async fn append_position_conditions_and_tail_reads_work_on_azurite() {
    let az = Azurite::start();
    let store = Store::open(&az.url("drbook/INC-1"), |_| None, || None)
        .unwrap()
        .without_retries();
    remote::ensure_container(&store).await.unwrap();
    remote::ensure_container(&store).await.unwrap();
    let name = store.loc.blob_name("timeline.jsonl");
    remote::ensure_append_blob(&store, &name).await.unwrap();
    assert_eq!(
        remote::read_from(&store, &name, 0).await.unwrap(),
        Some((Bytes::new(), 0))
    );

    let a = remote::append_at(&store, &name, Bytes::from_static(b"one\n"), 0)
        .await
        .unwrap();
    assert_eq!(a, Appended::At(4));
    // A second writer that still thinks the blob is empty loses the race and is told so.
    let b = remote::append_at(&store, &name, Bytes::from_static(b"two\n"), 0)
        .await
        .unwrap();
    assert_eq!(b, Appended::Moved);
    // Creating it again changes nothing.
    remote::ensure_append_blob(&store, &name).await.unwrap();
    let c = remote::append_at(&store, &name, Bytes::from_static(b"three\n"), 4)
        .await
        .unwrap();
    assert_eq!(c, Appended::At(10));

    let (all, len) = remote::read_from(&store, &name, 0).await.unwrap().unwrap();
    assert_eq!((&all[..], len), (&b"one\nthree\n"[..], 10));
    let (tail, len) = remote::read_from(&store, &name, 4).await.unwrap().unwrap();
    assert_eq!((&tail[..], len), (&b"three\n"[..], 10));
    let (none, len) = remote::read_from(&store, &name, 10).await.unwrap().unwrap();
    assert_eq!((none.len(), len), (0, 10));
    assert_eq!(remote::read_from(&store, "nope", 0).await.unwrap(), None);
    assert_eq!(
        remote::append_at(&store, "nope", Bytes::from_static(b"x"), 0)
            .await
            .unwrap(),
        Appended::Missing
    );
}

#[tokio::test]
async fn a_wrong_key_is_refused_with_the_blob_named_and_no_secret() {
    let az = Azurite::start();
    let env = |k: &str| (k == "AZURE_STORAGE_KEY").then(|| "d3Jvbmcga2V5".to_string());
    let store = Store::open(&az.url("drbook"), env, || None)
        .unwrap()
        .without_retries();
    let e = remote::ensure_container(&store)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("create the container"), "{e}");
    assert!(
        e.contains(&format!("127.0.0.1:{}/devstoreaccount1/drbook", az.port)),
        "{e}"
    );
    assert!(!e.contains("sig="), "{e}");
}

#[tokio::test]
async fn a_stopped_share_is_an_error_not_a_hang() {
    let mut az = Azurite::start();
    let store = Store::open(&az.url("drbook"), |_| None, || None)
        .unwrap()
        .without_retries();
    remote::ensure_container(&store).await.unwrap();
    az.stop();
    let t = std::time::Instant::now();
    let e = remote::ensure_container(&store)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t.elapsed()
    );
    assert!(e.contains("create the container"), "{e}");
}
