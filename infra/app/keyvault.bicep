// Key Vault (RBAC mode, soft delete + purge protection) holding the app's secrets. The Function
// App reads them through Key Vault references resolved with its managed identity (role Key Vault
// Secrets User, rbac.bicep); their values never appear in app settings or outputs.
param name string
param location string = resourceGroup().location
param tags object = {}
param logAnalyticsWorkspaceId string

@secure()
param tokenEncryptionKey string
@secure()
param tokenEncryptionKeysPrevious string = ''
@secure()
param loketClientSecret string
@secure()
param afasSbClientSecret string
@secure()
param authClientSecret string = ''

// Secret names (Key Vault allows letters, digits and dashes).
var tokenEncryptionKeyName = 'token-encryption-key'
var tokenEncryptionKeysPreviousName = 'token-encryption-keys-previous'
var loketClientSecretName = 'loket-client-secret'
var afasSbClientSecretName = 'afas-sb-client-secret'
var authClientSecretName = 'microsoft-provider-authentication-secret'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: no firewall default-deny; Flex Consumption without VNet integration resolves Key Vault references over the public endpoint. The data plane is RBAC-only (Key Vault Secrets User for the app identity).
  // checkov:skip=CKV_AZURE_189: public network access stays enabled for the same reason as CKV_AZURE_109.
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource tokenEncryptionKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose; an expired encryption key or OAuth client secret would stop the nightly sync. Rotation is an operator task (docs/operations.md).
  parent: vault
  name: tokenEncryptionKeyName
  properties: {
    value: tokenEncryptionKey
    contentType: 'base64 of 32 random bytes (AES-256-GCM key for stored tokens)'
  }
}

resource tokenEncryptionKeysPreviousSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(tokenEncryptionKeysPrevious)) {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose; an expired encryption key or OAuth client secret would stop the nightly sync. Rotation is an operator task (docs/operations.md).
  // checkov:skip=CKV_AZURE_114: contentType IS set below; checkov does not read the properties of a conditional (if) resource.
  parent: vault
  name: tokenEncryptionKeysPreviousName
  properties: {
    value: tokenEncryptionKeysPrevious
    contentType: 'comma-separated base64 keys, decrypt only (rotation)'
  }
}

resource loketClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose; an expired encryption key or OAuth client secret would stop the nightly sync. Rotation is an operator task (docs/operations.md).
  parent: vault
  name: loketClientSecretName
  properties: {
    value: loketClientSecret
    contentType: 'Loket OAuth client secret'
  }
}

resource afasSbClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose; an expired encryption key or OAuth client secret would stop the nightly sync. Rotation is an operator task (docs/operations.md).
  parent: vault
  name: afasSbClientSecretName
  properties: {
    value: afasSbClientSecret
    contentType: 'AFAS SB OAuth client secret'
  }
}

resource authClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(authClientSecret)) {
  // checkov:skip=CKV_AZURE_41: no expiry on purpose; an expired encryption key or OAuth client secret would stop the nightly sync. Rotation is an operator task (docs/operations.md).
  // checkov:skip=CKV_AZURE_114: contentType IS set below; checkov does not read the properties of a conditional (if) resource.
  parent: vault
  name: authClientSecretName
  properties: {
    value: authClientSecret
    contentType: 'Entra ID client secret for App Service Authentication'
  }
}

// Audit who read which secret.
resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
// Version-less secret URIs: the app follows the latest version of each secret.
output tokenEncryptionKeySecretUri string = '${vault.properties.vaultUri}secrets/${tokenEncryptionKeyName}'
output tokenEncryptionKeysPreviousSecretUri string = empty(tokenEncryptionKeysPrevious) ? '' : '${vault.properties.vaultUri}secrets/${tokenEncryptionKeysPreviousName}'
output loketClientSecretUri string = '${vault.properties.vaultUri}secrets/${loketClientSecretName}'
output afasSbClientSecretUri string = '${vault.properties.vaultUri}secrets/${afasSbClientSecretName}'
output authClientSecretUri string = empty(authClientSecret) ? '' : '${vault.properties.vaultUri}secrets/${authClientSecretName}'
