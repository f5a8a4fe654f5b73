//! TEMPORARY stub (replaced by the bgp-net branch).
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
pub const BGP_PORT: u16 = 179;
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
pub async fn connect(peer: SocketAddr, _interface: Option<&str>, _md5: Option<&[u8]>, timeout: Duration) -> Result<tokio::net::TcpStream, NetError> {
    let s = tokio::time::timeout(timeout, tokio::net::TcpStream::connect(peer)).await.map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    s.set_nodelay(true)?;
    Ok(s)
}
pub struct Listener(tokio::net::TcpListener);
impl Listener {
    pub fn bind(port: u16) -> Result<Listener, NetError> {
        let std = std::net::TcpListener::bind(("::", port))?;
        std.set_nonblocking(true)?;
        Ok(Listener(tokio::net::TcpListener::from_std(std)?))
    }
    pub fn set_md5(&self, _peer: IpAddr, _key: Option<&[u8]>) -> Result<(), NetError> { Ok(()) }
    pub async fn accept(&self) -> std::io::Result<(tokio::net::TcpStream, IpAddr)> {
        let (s, a) = self.0.accept().await?;
        Ok((s, a.ip().to_canonical()))
    }
}
