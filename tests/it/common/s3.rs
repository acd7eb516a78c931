//! s3s-fs, a third-party S3 implementation, served from a thread of the test process: the
//! upload tests check what blast stored against it. Kept apart from the other helpers so that
//! only the tests that upload to it name it.

/// s3s-fs on 127.0.0.1 in a thread of this process, with SigV4 auth, storing under `root`.
pub fn start_s3s_fs(root: &std::path::Path) -> String {
    use hyper_util::rt::TokioIo;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let fs = s3s_fs::FileSystem::new(root).expect("s3s-fs root");
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single("fs-access", "fs-secret"));
    let service = b.build();
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        rt.block_on(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let service = service.clone();
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    });
    format!("http://{addr}")
}
