//! awsQuery / restXml response encoding: typed outputs (serde) into XML.
