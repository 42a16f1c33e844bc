//! placeholder
use super::*;
use async_trait::async_trait;
use std::sync::Arc;
pub struct S3Kind;
#[async_trait]
impl ProviderKind for S3Kind {
    fn name(&self) -> &'static str {
        "s3"
    }
    fn configs(&self) -> &'static [ConfigSpec] {
        &[]
    }
    async fn initremote(&self, _annex: &dyn Annex) -> Result<()> {
        Err(ProviderError::Unsupported("s3"))
    }
    async fn prepare(&self, _annex: &dyn Annex) -> Result<Arc<dyn Provider>> {
        Err(ProviderError::Unsupported("s3"))
    }
}
