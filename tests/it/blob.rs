//! The blob layer against Azurite: signing in with the account key (as a SAS), the append
//! position and ETag conditions, ranged reads of the tail.

use crate::support::azurite::Azurite;
use bytes::Bytes;
use drbook::blob::{DEV_KEY, SERVICE_VERSION, Store};
use drbook::share::remote::{self, Appended, End};

fn at(len: u64) -> End {
    End {
        len,
        ..End::default()
    }
}

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
    let (empty, end) = remote::read_from(&store, &name, 0).await.unwrap().unwrap();
    assert_eq!((empty.len(), end.len), (0, 0));

    let Appended::At(one) = remote::append_at(&store, &name, Bytes::from_static(b"one\n"), &at(0))
        .await
        .unwrap()
    else {
        panic!("the first append is refused");
    };
    assert_eq!(one.len, 4);
    assert!(one.etag.is_some(), "{one:?}");
    // A second writer that still thinks the blob is empty loses the race and is told so.
    let b = remote::append_at(&store, &name, Bytes::from_static(b"two\n"), &at(0))
        .await
        .unwrap();
    assert_eq!(b, Appended::Moved);
    // Creating it again changes nothing.
    remote::ensure_append_blob(&store, &name).await.unwrap();
    let Appended::At(three) =
        remote::append_at(&store, &name, Bytes::from_static(b"three\n"), &one)
            .await
            .unwrap()
    else {
        panic!("an append at the end as last seen is refused");
    };
    assert_eq!(three.len, 10);
    assert_eq!(three.blocks, Some(2), "the service counts the blocks");
    assert_ne!(three.etag, one.etag);

    let (all, end) = remote::read_from(&store, &name, 0).await.unwrap().unwrap();
    assert_eq!((&all[..], &end), (&b"one\nthree\n"[..], &three));
    let (tail, end) = remote::read_from(&store, &name, 4).await.unwrap().unwrap();
    assert_eq!((&tail[..], end.len), (&b"three\n"[..], 10));
    assert_eq!(end.etag, three.etag, "a ranged read tells the blob's ETag");
    let (none, end) = remote::read_from(&store, &name, 10).await.unwrap().unwrap();
    assert_eq!((none.len(), end.len), (0, 10));
    // The length alone is not enough: at the right length with an ETag that is no longer the
    // blob's, the append is refused.
    assert_eq!(
        remote::append_at(
            &store,
            &name,
            Bytes::from_static(b"x\n"),
            &End { len: 10, ..one }
        )
        .await
        .unwrap(),
        Appended::Moved
    );
    assert_eq!(remote::read_from(&store, "nope", 0).await.unwrap(), None);
    assert_eq!(
        remote::append_at(&store, "nope", Bytes::from_static(b"x"), &at(0))
            .await
            .unwrap(),
        Appended::Missing
    );
}

/// Someone replaces the timeline with another of the same length: a writer that read the
/// old one has the right length still, but not the ETag, and is refused rather than appending
/// after lines it never read.
#[tokio::test]
async fn a_replaced_blob_of_the_same_length_refuses_an_append_meant_for_the_old_one() {
    let az = Azurite::start();
    let store = Store::open(&az.url("drbook/INC-2"), |_| None, || None)
        .unwrap()
        .without_retries();
    remote::ensure_container(&store).await.unwrap();
    let name = store.loc.blob_name("timeline.jsonl");
    remote::ensure_append_blob(&store, &name).await.unwrap();
    let Appended::At(seen) = remote::append_at(&store, &name, Bytes::from_static(b"old\n"), &at(0))
        .await
        .unwrap()
    else {
        panic!("the first append is refused");
    };

    // Created again without a condition, the blob is replaced by an empty one.
    store
        .append_blob(&name)
        .unwrap()
        .create(None)
        .await
        .unwrap();
    let Appended::At(other) =
        remote::append_at(&store, &name, Bytes::from_static(b"new\n"), &at(0))
            .await
            .unwrap()
    else {
        panic!("the append to the new blob is refused");
    };
    assert_eq!(other.len, seen.len);

    let late = remote::append_at(&store, &name, Bytes::from_static(b"mine\n"), &seen)
        .await
        .unwrap();
    assert_eq!(late, Appended::Moved);
    let (all, _) = remote::read_from(&store, &name, 0).await.unwrap().unwrap();
    assert_eq!(&all[..], b"new\n");
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

/// With the account key, drbook signs a service SAS for the share's one container with only the
/// permissions the share uses, for minutes: Azurite (which checks SAS signatures) takes it for
/// everything the share does, and refuses it for anything wider. Creating the container has a
/// token of its own that can do nothing else.
#[tokio::test]
async fn the_key_signs_a_narrow_sas_that_does_what_the_share_does_and_nothing_more() {
    let az = Azurite::start();
    let env = |k: &str| (k == "AZURE_STORAGE_KEY").then(|| DEV_KEY.to_string());
    let store = Store::open(&az.url("drbook/INC-9"), env, || None)
        .unwrap()
        .without_retries();
    remote::ensure_container(&store).await.unwrap();
    let name = store.loc.blob_name("timeline.jsonl");
    remote::ensure_append_blob(&store, &name).await.unwrap();
    let appended = remote::append_at(&store, &name, Bytes::from_static(b"one\n"), &at(0))
        .await
        .unwrap();
    assert!(matches!(appended, Appended::At(_)), "{appended:?}");
    let (all, _) = remote::read_from(&store, &name, 0).await.unwrap().unwrap();
    assert_eq!(&all[..], b"one\n");
    let presence = store.loc.blob_name("presence/alice.json");
    remote::put(&store, &presence, Bytes::from_static(b"{}"))
        .await
        .unwrap();
    remote::put(&store, &presence, Bytes::from_static(b"{\"again\":1}"))
        .await
        .unwrap();

    let signed = store.blob(&name).unwrap().url().clone();
    let q: std::collections::BTreeMap<String, String> = signed.query_pairs().into_owned().collect();
    assert_eq!(q.get("sr").map(String::as_str), Some("c"), "{q:?}");
    assert_eq!(q.get("sp").map(String::as_str), Some("racw"), "{q:?}");
    assert!(
        !q.contains_key("ss") && !q.contains_key("srt"),
        "not an account SAS: {q:?}"
    );
    assert_eq!(
        q.get("spr").map(String::as_str),
        Some("https,http"),
        "loopback emulator"
    );
    let time = |k: &str| chrono::DateTime::parse_from_rfc3339(&q[k]).unwrap();
    let life = time("se") - time("st");
    assert!(life <= chrono::Duration::minutes(20), "{life}");
    assert!(time("se") > chrono::Utc::now(), "still valid");
    let sas = signed.query().unwrap().to_string();
    let create_sas = store
        .container_to_create()
        .unwrap()
        .url()
        .query()
        .unwrap()
        .to_string();
    assert!(
        create_sas.contains("sp=c&") && create_sas.contains("srt=c&"),
        "{create_sas}"
    );

    // Another container in the same account.
    let other = Store::open(&az.url("other"), env, || None).unwrap();
    remote::ensure_container(&other).await.unwrap();
    remote::put(&other, "x", Bytes::from_static(b"x"))
        .await
        .unwrap();

    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}/devstoreaccount1", az.port);
    let send = |method: reqwest::Method, url: String| {
        let http = http.clone();
        async move {
            let http = http
                .request(method, url)
                .header("x-ms-version", SERVICE_VERSION)
                .header("x-ms-blob-type", "BlockBlob")
                .body(b"data".to_vec())
                .send()
                .await
                .unwrap();
            let status = http.status().as_u16();
            (status, http.text().await.unwrap_or_default())
        }
    };
    use reqwest::Method;
    // The token works for what it is for (so the refusals below are the token's doing)...
    let (ok, body) = send(Method::GET, format!("{base}/drbook/{name}?{sas}")).await;
    assert_eq!((ok, body.as_str()), (200, "one\n"));
    // ...and for nothing wider.
    for (what, method, url) in [
        (
            "list the account's containers",
            Method::GET,
            format!("{base}/?comp=list&{sas}"),
        ),
        (
            "write to another container",
            Method::PUT,
            format!("{base}/other/y?{sas}"),
        ),
        (
            "read another container",
            Method::GET,
            format!("{base}/other/x?{sas}"),
        ),
        (
            "list its own container",
            Method::GET,
            format!("{base}/drbook?restype=container&comp=list&{sas}"),
        ),
        (
            "delete a blob",
            Method::DELETE,
            format!("{base}/drbook/{presence}?{sas}"),
        ),
        (
            "read with the creation token",
            Method::GET,
            format!("{base}/drbook/{name}?{create_sas}"),
        ),
        (
            "write with the creation token",
            Method::PUT,
            format!("{base}/drbook/z?{create_sas}"),
        ),
    ] {
        let (status, body) = send(method, url).await;
        assert_eq!(status, 403, "{what} was not refused: {body}");
    }
}
