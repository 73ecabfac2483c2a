// Loonbrug in Azure: one resource group with a Flex Consumption Function App (Python 3.11), its
// user-assigned managed identity, keyless storage, Key Vault for the app secrets, Log Analytics +
// Application Insights, App Service Authentication (Entra ID), alert rules and a workbook.
// Deployed by `azd up` (azure.yaml); parameters come from main.parameters.json (azd environment).
// Security-relevant resources are declared directly (not through registry modules) so the
// offline checks in tests/infra can see them.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group name and the unique resource token.')
param environmentName string

@minLength(1)
@description('Region for every resource; must offer Flex Consumption (e.g. westeurope, northeurope, swedencentral).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the person running azd (AZURE_PRINCIPAL_ID). Gets data access to storage and Key Vault secrets for troubleshooting. Leave empty in pipelines.')
param principalId string = ''

// ----- the app's own settings (contract §1) -----
@description('Where users reach the app. Empty: the Function App default host name. OAuth redirect URIs are {publicBaseUrl}/api/oauth/<provider>/callback.')
param publicBaseUrl string = ''

@description('Loket OAuth server (authorize + token).')
param loketAuthUrl string = 'https://oauth.loket.nl'

@description('Loket REST API root.')
param loketApiUrl string = 'https://api.loket.nl/v2'

@description('Client id of the Loket OAuth client (registered with Loket).')
param loketClientId string

@secure()
@description('Client secret of the Loket OAuth client. Stored in Key Vault only.')
param loketClientSecret string

@description('AFAS Profit REST root; {environment} is the 5-digit environment number. Empty: https://{environment}.rest.afas.online/ProfitRestServices.')
param afasProfitUrl string = ''

@description('AFAS SB root; {environment} is the SB environment name. Empty: https://afas-sb.afasfocus.nl/{environment}.')
param afasSbUrl string = ''

@description('Client id of the AFAS SB partner OAuth client.')
param afasSbClientId string

@description('Comma-separated host patterns an AFAS SB API server may have (an accountant\'s https://<subdomain>.afasfocus.nl). Empty: *.afasfocus.nl.')
param afasSbAllowedHosts string = ''

@secure()
@description('Client secret of the AFAS SB partner OAuth client. Stored in Key Vault only.')
param afasSbClientSecret string

@description('AFAS partner IntegrationId ({subscription}_{project}, e.g. 12345_678900), sent as the IntegrationId header on every Profit request. Empty: not sent (not an AFAS partner build).')
param afasIntegrationId string = ''

@secure()
@description('base64 of 32 random bytes; encrypts every stored token. Generate once, keep it: a new value makes stored tokens unreadable (old Key Vault versions stay recoverable).')
param tokenEncryptionKey string

@secure()
@description('Former encryption keys (comma-separated base64) that still decrypt during a key rotation. Empty outside a rotation.')
param tokenEncryptionKeysPrevious string = ''

@minValue(0)
@maxValue(23)
@description('Europe/Amsterdam hour from which the nightly sync of a business day may start.')
param nightlyLocalHour int = 2

@description('ISO weekday (1 = Monday, Europe/Amsterdam) of the weekly Aansluiting (reconciliation).')
@minValue(1)
@maxValue(7)
param reconciliationWeekday int = 1

// ----- office workflow: audit copies and e-mail notifications -----
@minValue(1)
@maxValue(100)
@description('Years the audit copy of every journal run is kept (immutable, then deleted).')
param auditRetentionYears int = 7

@description('Azure Communication Services endpoint for e-mail notifications (https://<name>.<region>.communication.azure.com). Empty: no e-mail. The app identity needs a role on it that allows sending e-mail.')
param acsEmailEndpoint string = ''

@description('Sender address of the notifications (a MailFrom address of the ACS e-mail domain).')
param notifySender string = ''

// ----- sign-in (App Service Authentication, Microsoft Entra ID) -----
@description('Application (client) id of the Entra ID app registration users sign in with (defines the app role Loonbrug.Admin).')
param authClientId string

@secure()
@description('Client secret of that app registration, for the browser sign-in flow. Empty: API callers bring their own bearer tokens only.')
param authClientSecret string = ''

@description('OpenID issuer. Empty: the tenant you deploy into (https://login.microsoftonline.com/<tenant>/v2.0).')
param authOpenIdIssuer string = ''

// ----- operations -----
@description('E-mail address that receives the alerts.')
param alertEmail string

@minValue(1)
@maxValue(100)
@description('Alert when more than this percentage of an office\'s journal runs failed in the last 24 hours.')
param failureRateThresholdPercent int = 20

@minValue(40) // [I] the lowest value Flex Consumption accepts, per its docs; check on first deployment
@maxValue(1000)
@description('Upper bound for Flex Consumption scale-out. host.json batchSize keeps per-instance load on Loket/AFAS low.')
param maximumInstanceCount int = 40

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, application: 'loonbrug' }
var functionAppName = '${abbrs.webSitesFunctions}loonbrug-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// The app's identity for storage, Key Vault references and Application Insights (no keys anywhere).
module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}loonbrug-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentStorageContainerName
    auditRetentionYears: auditRetentionYears
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    tokenEncryptionKey: tokenEncryptionKey
    tokenEncryptionKeysPrevious: tokenEncryptionKeysPrevious
    loketClientSecret: loketClientSecret
    afasSbClientSecret: afasSbClientSecret
    authClientSecret: authClientSecret
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    managedIdentityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  dependsOn: [rbac] // the identity can read storage and secrets before the app first starts
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentStorageContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    tokenEncryptionKeySecretUri: keyVault.outputs.tokenEncryptionKeySecretUri
    tokenEncryptionKeysPreviousSecretUri: keyVault.outputs.tokenEncryptionKeysPreviousSecretUri
    loketClientSecretUri: keyVault.outputs.loketClientSecretUri
    afasSbClientSecretUri: keyVault.outputs.afasSbClientSecretUri
    authClientSecretUri: keyVault.outputs.authClientSecretUri
    maximumInstanceCount: maximumInstanceCount
    publicBaseUrl: publicBaseUrl
    loketAuthUrl: loketAuthUrl
    loketApiUrl: loketApiUrl
    loketClientId: loketClientId
    // Defaults here, not in main.parameters.json: azd substitution cannot carry '{environment}'.
    afasProfitUrl: empty(afasProfitUrl) ? 'https://{environment}.rest.afas.online/ProfitRestServices' : afasProfitUrl
    afasSbUrl: empty(afasSbUrl) ? 'https://afas-sb.afasfocus.nl/{environment}' : afasSbUrl
    afasSbClientId: afasSbClientId
    afasIntegrationId: afasIntegrationId
    afasSbAllowedHosts: empty(afasSbAllowedHosts) ? '*.afasfocus.nl' : afasSbAllowedHosts
    nightlyLocalHour: nightlyLocalHour
    reconciliationWeekday: reconciliationWeekday
    auditRetentionYears: auditRetentionYears
    acsEmailEndpoint: acsEmailEndpoint
    notifySender: notifySender
  }
}

module auth 'app/auth.bicep' = {
  name: 'auth'
  scope: rg
  params: {
    functionAppName: api.outputs.name
    clientId: authClientId
    useClientSecret: !empty(authClientSecret)
    openIdIssuer: empty(authOpenIdIssuer) ? '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0' : authOpenIdIssuer
  }
}

module alerts 'app/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    actionGroupName: '${abbrs.insightsActionGroups}loonbrug-${resourceToken}'
    alertNamePrefix: '${abbrs.insightsScheduledQueryRules}loonbrug-${resourceToken}'
    alertEmail: alertEmail
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    failureRateThresholdPercent: failureRateThresholdPercent
  }
}

module workbook 'app/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

// Outputs for azd (UPPER_SNAKE) and for the operator registering redirect URIs.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output PUBLIC_BASE_URL string = api.outputs.publicBaseUrl
output PORTAL_URL string = api.outputs.portalUrl
output LOKET_REDIRECT_URI string = '${api.outputs.publicBaseUrl}/api/oauth/loket/callback'
output AFAS_SB_REDIRECT_URI string = '${api.outputs.publicBaseUrl}/api/oauth/afas-sb/callback'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
