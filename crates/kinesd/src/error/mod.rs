//! The errors kinesd answers with: one variant per AWS error type, each knowing its `__type`
//! and HTTP status. The engine and the api layer produce them; the protocol layer encodes them.
//!
//! Every message kinesd sends is written once, in `messages.rs`, as a named constructor
//! (`KinesisError::stream_not_found`, ...): AWS's texts must match byte for byte, and a text
//! formatted at several call sites drifts. Outside this module only tests build raw variants.

pub mod java_date;
mod messages;

pub use java_date::amz_date;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KinesisError {
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("{0}")]
    ResourceInUse(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    ExpiredIterator(String),
    #[error("{0}")]
    ExpiredNextToken(String),
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Serialization(String),
    #[error("{0}")]
    UnknownOperation(String),
    #[error("{0}")]
    MissingAuthenticationToken(String),
    #[error("{0}")]
    IncompleteSignature(String),
    #[error("{0}")]
    InvalidSignature(String),
    /// An access key id or session token that no configured credential has.
    #[error("{0}")]
    UnrecognizedClient(String),
    #[error("{0}")]
    RequestEntityTooLarge(String),
    /// The KMS key a StartStreamEncryption names does not exist.
    #[error("{0}")]
    KmsNotFound(String),
    /// An operation of the model that kinesd does not serve yet.
    #[error("{0}")]
    NotImplemented(String),
    #[error("{0}")]
    InternalFailure(String),
    /// An error type kinesd never produces itself (the KMS errors, ServiceUnavailable, ...),
    /// sent only when a fault rule asks for it (`--faults`).
    #[error("{message}")]
    Injected { type_name: &'static str, status: u16, message: String },
}

impl KinesisError {
    /// The `__type` and `x-amzn-ErrorType` of this error.
    pub fn type_name(&self) -> &'static str {
        use KinesisError::*;
        match self {
            ResourceNotFound(_) => "ResourceNotFoundException",
            ResourceInUse(_) => "ResourceInUseException",
            InvalidArgument(_) => "InvalidArgumentException",
            LimitExceeded(_) => "LimitExceededException",
            Validation(_) => "ValidationException",
            ExpiredIterator(_) => "ExpiredIteratorException",
            ExpiredNextToken(_) => "ExpiredNextTokenException",
            ProvisionedThroughputExceeded(_) => "ProvisionedThroughputExceededException",
            AccessDenied(_) => "AccessDeniedException",
            Serialization(_) => "SerializationException",
            UnknownOperation(_) => "UnknownOperationException",
            MissingAuthenticationToken(_) => "MissingAuthenticationTokenException",
            IncompleteSignature(_) => "IncompleteSignatureException",
            InvalidSignature(_) => "InvalidSignatureException",
            UnrecognizedClient(_) => "UnrecognizedClientException",
            RequestEntityTooLarge(_) => "RequestEntityTooLargeException",
            KmsNotFound(_) => "KMSNotFoundException",
            NotImplemented(_) => "NotImplementedException",
            InternalFailure(_) => "InternalFailure",
            Injected { type_name, .. } => type_name,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            KinesisError::InternalFailure(_) => 500,
            KinesisError::RequestEntityTooLarge(_) => 413,
            KinesisError::NotImplemented(_) => 501,
            KinesisError::Injected { status, .. } => *status,
            _ => 400,
        }
    }

    pub fn message(&self) -> &str {
        use KinesisError::*;
        match self {
            ResourceNotFound(m)
            | ResourceInUse(m)
            | InvalidArgument(m)
            | LimitExceeded(m)
            | Validation(m)
            | ExpiredIterator(m)
            | ExpiredNextToken(m)
            | ProvisionedThroughputExceeded(m)
            | AccessDenied(m)
            | Serialization(m)
            | UnknownOperation(m)
            | MissingAuthenticationToken(m)
            | IncompleteSignature(m)
            | InvalidSignature(m)
            | UnrecognizedClient(m)
            | RequestEntityTooLarge(m)
            | KmsNotFound(m)
            | NotImplemented(m)
            | InternalFailure(m) => m,
            Injected { message, .. } => message,
        }
    }

    /// AWS's Coral serializer spells the member `Message` for these errors.
    pub fn capitalised_message(&self) -> bool {
        matches!(self, KinesisError::Serialization(_))
    }
}

/// The message of an InternalFailure, also a failed PutRecords entry's ErrorMessage.
pub const INTERNAL_FAILURE_MESSAGE: &str = "Internal service failure.";

pub type Result<T> = std::result::Result<T, KinesisError>;
