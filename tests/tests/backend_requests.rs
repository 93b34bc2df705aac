//! Members' requests at the reference insurer, over real HTTPS on loopback
//! (issue 5, item 4): resumable chunked attachment uploads checked by
//! SHA-256, request uploads made idempotent by the phone's id and revision
//! (ADR 0005), the member's feed of status changes, the reviewer's queue
//! and decisions with the admin key, isolation between members, and all of
//! it surviving a backend restart.
//!
//! The backend runs on a [`FixedClock`](carnet_core::clock::FixedClock)
//! that the tests move.

use carnet_core::model::ATTACHMENT_CHUNK_BYTES;
use carnet_core::requests::{AttachmentRef, ContentHash, MediaType, RequestForm};
use carnet_e2e::backend::start_time;
use carnet_e2e::sample::{claim, file, leave};
use chrono::TimeDelta;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

carnet_e2e::clocked_backend!(Backend);

/// A logged-in member.
struct Member {
    token: String,
}

/// What a request answered: status and JSON body.
type Answer = (StatusCode, Value);

impl Backend {
    /// Registers, confirms and logs in `username`.
    async fn member(&self, username: &str) -> Member {
        Member {
            token: self.register_member(username).await.access_token,
        }
    }

    /// `PUT /v1/attachments/{hash}?offset=&size=` with raw bytes.
    async fn chunk(
        &self,
        member: &Member,
        hash: &str,
        offset: u64,
        size: u64,
        bytes: &[u8],
    ) -> Answer {
        let path = format!("/v1/attachments/{hash}?offset={offset}&size={size}");
        self.put_bytes(&path, &member.token, bytes).await
    }

    /// Uploads `bytes` whole, chunk by chunk as the phone does.
    async fn upload_file(&self, member: &Member, bytes: &[u8]) -> AttachmentRef {
        let reference = attachment(bytes);
        let hash = reference.sha256.as_str();
        let size = bytes.len() as u64;
        let mut offset = 0;
        for piece in bytes.chunks(ATTACHMENT_CHUNK_BYTES) {
            let (status, state) = self.chunk(member, hash, offset, size, piece).await;
            assert_eq!(status, StatusCode::OK, "{state}");
            offset += piece.len() as u64;
            assert_eq!(state["received"], offset);
        }
        let (_, state) = self
            .get(&format!("/v1/attachments/{hash}"), &member.token)
            .await;
        assert_eq!(state["complete"], true, "{state}");
        reference
    }

    /// `PUT /v1/requests/{id}`.
    async fn put_request(
        &self,
        member: &Member,
        id: &str,
        revision: u64,
        form: &RequestForm,
    ) -> Answer {
        self.put(
            &format!("/v1/requests/{id}"),
            &member.token,
            json!({"revision": revision, "form": form}),
        )
        .await
    }

    /// [`put_request`](Self::put_request), which the insurer must accept
    /// (200), answering that it holds revision `held` as received and
    /// whether this upload was a `replay`.
    async fn put_received(
        &self,
        member: &Member,
        id: &str,
        revision: u64,
        form: &RequestForm,
        held: u64,
        replay: bool,
    ) {
        let (status, body) = self.put_request(member, id, revision, form).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            body,
            json!({"id": id, "revision": held, "replay": replay, "status": "received"})
        );
    }

    /// A reviewer's call with the admin key.
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let key = self.insurer.admin_key();
        self.call(method, path, Some(&key), body).await
    }

    async fn review(&self, id: &str, action: &str, reasons: &[&str]) -> Answer {
        self.admin(
            Method::POST,
            &format!("/v1/admin/requests/{id}/review"),
            Some(json!({"action": action, "reasons": reasons})),
        )
        .await
    }

    /// The member's whole feed after `after`.
    async fn changes(&self, member: &Member, query: &str) -> Value {
        let (status, body) = self
            .get(&format!("/v1/requests/changes{query}"), &member.token)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn attachment(bytes: &[u8]) -> AttachmentRef {
    AttachmentRef {
        sha256: ContentHash::of(bytes),
        size: bytes.len() as u64,
        media_type: MediaType::Jpeg,
        file_name: "certificado.jpg".to_owned(),
    }
}

/// A fresh request id, as the phone makes them.
fn request_id(n: u8) -> String {
    format!("{:02x}", n).repeat(16)
}

#[tokio::test]
async fn attachments_upload_in_chunks_resume_and_are_checked_by_hash() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let bytes = file(2 * ATTACHMENT_CHUNK_BYTES + 1000, 7);
    let size = bytes.len() as u64;
    let hash = ContentHash::of(&bytes).to_string();
    let chunk = ATTACHMENT_CHUNK_BYTES;
    let state_path = format!("/v1/attachments/{hash}");

    let (status, body) = backend.get(&state_path, &maria.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["code"], "not_found");

    // Starting anywhere but 0 is refused and starts nothing.
    let (status, body) = backend
        .chunk(&maria, &hash, chunk as u64, size, &bytes[chunk..2 * chunk])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "offset_mismatch");
    assert!(body["message"].as_str().unwrap().contains("received"));

    let (status, state) = backend.chunk(&maria, &hash, 0, size, &bytes[..chunk]).await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state,
        json!({"sha256": hash, "size": size, "received": chunk, "complete": false})
    );
    // The same chunk again (its answer was lost): the same state.
    let (status, again) = backend.chunk(&maria, &hash, 0, size, &bytes[..chunk]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, state);
    // A gap, or a chunk overlapping the end of what is held: refused.
    let (status, body) = backend
        .chunk(&maria, &hash, 2 * chunk as u64, size, &bytes[2 * chunk..])
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("offset_mismatch"))
    );
    let (status, body) = backend
        .chunk(
            &maria,
            &hash,
            (chunk / 2) as u64,
            size,
            &bytes[chunk / 2..chunk + 10],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("offset_mismatch"))
    );
    // Another size than the one declared first.
    let (status, body) = backend
        .chunk(
            &maria,
            &hash,
            chunk as u64,
            size + 1,
            &bytes[chunk..2 * chunk],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("size_mismatch"))
    );
    // The state tells where to resume.
    let (_, state) = backend.get(&state_path, &maria.token).await;
    assert_eq!(state["received"], chunk);

    let (status, state) = backend
        .chunk(&maria, &hash, chunk as u64, size, &bytes[chunk..2 * chunk])
        .await;
    assert_eq!(
        (status, state["received"].as_u64()),
        (StatusCode::OK, Some(2 * chunk as u64))
    );
    let (status, state) = backend
        .chunk(&maria, &hash, 2 * chunk as u64, size, &bytes[2 * chunk..])
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(
        state,
        json!({"sha256": hash, "size": size, "received": size, "complete": true})
    );
    // Complete: any further chunk is a replay.
    let (status, again) = backend.chunk(&maria, &hash, 0, size, &bytes[..10]).await;
    assert_eq!((status, &again), (StatusCode::OK, &state));

    // Over 20 MiB, a bad hash in the path, a body that is not bytes.
    let (status, body) = backend
        .chunk(&maria, &hash, 0, 20 * 1024 * 1024 + 1, b"x")
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large"))
    );
    let (status, body) = backend.chunk(&maria, "not-a-hash", 0, 1, b"x").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );
    assert_eq!(body["fields"], json!(["sha256"]));
    // A chunk over the 1 MiB limit.
    let big = file(1024 * 1024 + 1, 3);
    let big_hash = ContentHash::of(&big).to_string();
    let (status, body) = backend
        .chunk(&maria, &big_hash, 0, big.len() as u64, &big)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    // Bytes that are not the named file: the whole upload is discarded.
    let other = file(chunk + 500, 9);
    let (status, _) = backend
        .chunk(&maria, &big_hash, 0, other.len() as u64, &other[..chunk])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = backend
        .chunk(
            &maria,
            &big_hash,
            chunk as u64,
            other.len() as u64,
            &other[chunk..],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "hash_mismatch");
    let (status, _) = backend
        .get(&format!("/v1/attachments/{big_hash}"), &maria.token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Without a token: 401.
    let (status, body) = backend.call(Method::GET, &state_path, None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    backend.0.shutdown().await;
}

#[tokio::test]
async fn members_never_see_each_others_files_or_requests() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let juan = backend.member("juan.perez").await;
    let certificate_bytes = file(5000, 1);
    let certificate = backend.upload_file(&maria, &certificate_bytes).await;
    let id = request_id(1);
    let (status, body) = backend
        .put_request(&maria, &id, 1, &leave(&certificate, "Escuela 12"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Juan cannot tell that María uploaded this file...
    let path = format!("/v1/attachments/{}", certificate.sha256);
    let (status, _) = backend.get(&path, &juan.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // ...nor cite it without uploading it himself.
    let (status, body) = backend
        .put_request(&juan, &request_id(2), 1, &leave(&certificate, "Hospital"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "missing_attachments");
    assert_eq!(body["fields"], json!([certificate.sha256.as_str()]));
    // His own upload of the same file starts from zero, apart from hers.
    let (status, state) = backend
        .chunk(
            &juan,
            certificate.sha256.as_str(),
            0,
            5000,
            &certificate_bytes[..100],
        )
        .await;
    assert_eq!(
        (status, state["received"].as_u64()),
        (StatusCode::OK, Some(100))
    );
    let (_, hers) = backend.get(&path, &maria.token).await;
    assert_eq!(hers["complete"], true);

    // María's request id is hers: Juan's upload under it is refused,
    // without anything of hers in the answer.
    let juans = backend.upload_file(&juan, &file(300, 2)).await;
    for revision in [1, 2] {
        let (status, body) = backend
            .put_request(&juan, &id, revision, &leave(&juans, "Hospital"))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "id_taken");
        assert!(!body.to_string().contains("Escuela"), "{body}");
    }
    // Juan's feed is empty; María's request is unchanged.
    let feed = backend.changes(&juan, "").await;
    assert_eq!(feed["changes"], json!([]));
    let (_, queue) = backend.admin(Method::GET, "/v1/admin/requests", None).await;
    assert_eq!(queue["requests"].as_array().unwrap().len(), 1);
    assert_eq!(queue["requests"][0]["form"]["workplace"], "Escuela 12");
    assert_eq!(queue["requests"][0]["uploads"], 1);
    backend.0.shutdown().await;
}

#[tokio::test]
async fn uploads_are_idempotent_by_id_and_revision() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let receipt_bytes = file(70_000, 4);
    let receipt = attachment(&receipt_bytes);
    let id = request_id(7);

    // The receipt is not uploaded yet.
    let (status, body) = backend
        .put_request(&maria, &id, 1, &claim(std::slice::from_ref(&receipt)))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "missing_attachments");
    assert_eq!(body["fields"], json!([receipt.sha256.as_str()]));
    // Half of it is not enough.
    backend
        .chunk(
            &maria,
            receipt.sha256.as_str(),
            0,
            70_000,
            &receipt_bytes[..30_000],
        )
        .await;
    let (status, body) = backend
        .put_request(&maria, &id, 1, &claim(std::slice::from_ref(&receipt)))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("missing_attachments")
        )
    );
    backend
        .chunk(
            &maria,
            receipt.sha256.as_str(),
            30_000,
            70_000,
            &receipt_bytes[30_000..],
        )
        .await;

    // A form that breaks the rules names the field.
    let (status, body) = backend.put_request(&maria, &id, 1, &claim(&[])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_field");
    assert_eq!(body["fields"], json!(["receipts"]));
    let (status, body) = backend
        .put_request(&maria, "xyz", 1, &claim(std::slice::from_ref(&receipt)))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_field"))
    );

    let first = claim(std::slice::from_ref(&receipt));
    backend.put_received(&maria, &id, 1, &first, 1, false).await;
    // The same upload again (a retry after a timeout): a replay.
    backend.put_received(&maria, &id, 1, &first, 1, true).await;
    // The member edited it before review began: revision 2 replaces it.
    let second = claim(&[receipt.clone(), receipt.clone()]);
    backend
        .put_received(&maria, &id, 2, &second, 2, false)
        .await;
    // A late retry of revision 1 changes nothing and says revision 2 is held.
    backend.put_received(&maria, &id, 1, &first, 2, true).await;

    let (status, queue) = backend.admin(Method::GET, "/v1/admin/requests", None).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let held = &queue["requests"][0];
    assert_eq!(held["revision"], 2);
    assert_eq!(held["uploads"], 4);
    assert_eq!(held["form"]["receipts"].as_array().unwrap().len(), 2);
    assert_eq!(held["status"], "received");
    // One status change per accepted revision, none for replays.
    let feed = backend.changes(&maria, "").await;
    let revisions: Vec<_> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| (change["revision"].clone(), change["status"].clone()))
        .collect();
    assert_eq!(
        revisions,
        vec![(json!(1), json!("received")), (json!(2), json!("received"))]
    );
    backend.0.shutdown().await;
}

#[tokio::test]
async fn returned_then_resubmitted_then_approved_through_the_admin_api() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let certificate = backend.upload_file(&maria, &file(2000, 5)).await;
    let id = request_id(3);
    let (status, _) = backend
        .put_request(&maria, &id, 1, &leave(&certificate, "Escuela 12"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Not with the member's token, nor without a key.
    let (status, body) = backend
        .call(Method::GET, "/v1/admin/requests", Some(&maria.token), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, _) = backend
        .call(
            Method::POST,
            &format!("/v1/admin/requests/{id}/review"),
            Some(&backend.insurer.pharmacy_key()),
            Some(json!({"action": "approve"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    backend.clock.advance(TimeDelta::hours(1));
    let (status, body) = backend.review(&id, "under_review", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "under_review");
    // Review has begun: the member can no longer replace it.
    let (status, body) = backend
        .put_request(&maria, &id, 2, &leave(&certificate, "Escuela 14"))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_editable"))
    );
    // A return needs a reason.
    let (status, body) = backend.review(&id, "return", &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_field"))
    );
    let (status, body) = backend
        .review(&id, "return", &["El certificado no tiene firma"])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "returned");
    assert_eq!(body["reasons"], json!(["El certificado no tiene firma"]));
    // Only the member's resubmission moves a returned request.
    let (status, body) = backend.review(&id, "approve", &[]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_allowed"))
    );
    let (_, queue) = backend
        .admin(Method::GET, "/v1/admin/requests?status=returned", None)
        .await;
    assert_eq!(queue["requests"].as_array().unwrap().len(), 1);

    backend.clock.advance(TimeDelta::hours(1));
    backend
        .put_received(
            &maria,
            &id,
            2,
            &leave(&certificate, "Escuela 12 (turno tarde)"),
            2,
            false,
        )
        .await;
    let (_, queue) = backend
        .admin(Method::GET, "/v1/admin/requests?status=received", None)
        .await;
    assert_eq!(
        queue["requests"][0]["form"]["workplace"],
        "Escuela 12 (turno tarde)"
    );
    let (status, body) = backend.review(&id, "approve", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["revision"], 2);
    // Decided is final.
    for (action, reasons) in [
        ("approve", &[][..]),
        ("reject", &["tarde"][..]),
        ("under_review", &[][..]),
    ] {
        let (status, body) = backend.review(&id, action, reasons).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::CONFLICT, Some("not_allowed"))
        );
    }
    let (status, _) = backend.review(&request_id(99), "approve", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = backend
        .admin(Method::GET, "/v1/admin/requests?status=sent", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The phone learns every step from its feed, in order.
    let feed = backend.changes(&maria, "").await;
    let steps: Vec<_> = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            (
                change["revision"].as_u64().unwrap(),
                change["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (1, "received".to_owned()),
            (1, "under_review".to_owned()),
            (1, "returned".to_owned()),
            (2, "received".to_owned()),
            (2, "approved".to_owned()),
        ]
    );
    assert_eq!(
        feed["changes"][2]["reasons"],
        json!(["El certificado no tiene firma"])
    );
    assert_eq!(
        feed["changes"][4]["at"].as_i64().unwrap(),
        start_time().timestamp() + 7200
    );
    assert_eq!(feed["more"], false);
    backend.0.shutdown().await;
}

#[tokio::test]
async fn the_changes_feed_pages_with_after_and_limit() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let juan = backend.member("juan.perez").await;
    let certificate = backend.upload_file(&maria, &file(1000, 6)).await;
    let juans = backend.upload_file(&juan, &file(1000, 8)).await;
    let ids: Vec<String> = (10..15).map(request_id).collect();
    for (n, id) in ids.iter().enumerate() {
        let (status, _) = backend
            .put_request(&maria, id, 1, &leave(&certificate, "Escuela 12"))
            .await;
        assert_eq!(status, StatusCode::OK);
        // Juan's changes interleave with hers in the sequence.
        let (status, _) = backend
            .put_request(
                &juan,
                &request_id(40 + n as u8),
                1,
                &leave(&juans, "Hospital"),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = backend.review(&ids[0], "under_review", &[]).await;
    assert_eq!(status, StatusCode::OK);

    let mut seen = Vec::new();
    let mut after = 0;
    let mut pages = 0;
    loop {
        let page = backend
            .changes(&maria, &format!("?after={after}&limit=2"))
            .await;
        pages += 1;
        let changes = page["changes"].as_array().unwrap();
        assert!(changes.len() <= 2);
        for change in changes {
            seen.push((
                change["id"].as_str().unwrap().to_owned(),
                change["status"].as_str().unwrap().to_owned(),
            ));
        }
        let next = page["next_after"].as_u64().unwrap();
        if changes.is_empty() {
            assert_eq!(next, after, "unchanged when empty");
        } else {
            assert!(next > after);
        }
        after = next;
        if page["more"] == false {
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<_> = ids
        .iter()
        .map(|id| (id.clone(), "received".to_owned()))
        .collect();
    expected.push((ids[0].clone(), "under_review".to_owned()));
    assert_eq!(seen, expected);
    // Nothing new after the end; Juan's feed has only his five.
    let end = backend.changes(&maria, &format!("?after={after}")).await;
    assert_eq!(end["changes"], json!([]));
    assert_eq!(end["next_after"], after);
    assert_eq!(end["more"], false);
    let his = backend.changes(&juan, "?limit=500").await;
    assert_eq!(his["changes"].as_array().unwrap().len(), 5);
    // Limits are 1 to 500; cursors are numbers.
    for query in ["?limit=0", "?limit=501", "?after=-1", "?after=abc"] {
        let (status, body) = backend
            .get(&format!("/v1/requests/changes{query}"), &maria.token)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["code"], "invalid_field");
    }
    backend.0.shutdown().await;
}

#[tokio::test]
async fn idempotency_and_partial_uploads_survive_a_backend_restart() {
    let backend = Backend::start().await;
    let maria = backend.member("maria.lopez").await;
    let certificate = backend.upload_file(&maria, &file(3000, 11)).await;
    let id = request_id(21);
    let form = leave(&certificate, "Escuela 12");
    let (status, first) = backend.put_request(&maria, &id, 1, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["replay"], false);
    // A photo, interrupted after its first chunk.
    let photo = file(ATTACHMENT_CHUNK_BYTES + 4321, 12);
    let photo_hash = ContentHash::of(&photo).to_string();
    let size = photo.len() as u64;
    let (status, _) = backend
        .chunk(
            &maria,
            &photo_hash,
            0,
            size,
            &photo[..ATTACHMENT_CHUNK_BYTES],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let admin_key = backend.insurer.admin_key();

    let backend = backend.restart().await;
    assert_eq!(
        backend.insurer.admin_key(),
        admin_key,
        "the key file is reused"
    );
    // The same upload weeks later is still a replay.
    backend.clock.advance(TimeDelta::days(25));
    backend.put_received(&maria, &id, 1, &form, 1, true).await;
    // The photo resumes where it stopped.
    let (status, state) = backend
        .get(&format!("/v1/attachments/{photo_hash}"), &maria.token)
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["received"], ATTACHMENT_CHUNK_BYTES);
    let (status, state) = backend
        .chunk(
            &maria,
            &photo_hash,
            ATTACHMENT_CHUNK_BYTES as u64,
            size,
            &photo[ATTACHMENT_CHUNK_BYTES..],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{state}");
    assert_eq!(state["complete"], true);
    let (status, queue) = backend.admin(Method::GET, "/v1/admin/requests", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(queue["requests"][0]["uploads"], 2);
    let feed = backend.changes(&maria, "").await;
    assert_eq!(feed["changes"].as_array().unwrap().len(), 1);
    backend.0.shutdown().await;
}
